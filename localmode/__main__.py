"""`make run`: the whole service in the foreground on 127.0.0.1."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType

from localmode.service import LocalConfig, LocalService
from localmode.walkthrough import walkthrough


def main() -> int:
    config = LocalConfig.from_env()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    for noisy in ("botocore", "boto3", "urllib3", "moto", "responses"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    service = LocalService(config)
    service.start()
    print(walkthrough(service.base_url, config, sandbox=config.linkedin_api_url is None), flush=True)
    stopped = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    stopped.wait()
    print("stopping…", flush=True)
    service.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
