"""Partner cohort import (contract v2 §3): a partner's audience (Segment Engage's "Braze Cohorts") kept as cohort
memberships on profiles, for segments to filter on."""
