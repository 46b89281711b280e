"""The composition root: the one place that builds the platform's services from Settings, for every Lambda handler
and for the operator CLI. Nothing else constructs an adapter or a destination.

One module per capability, each a class that builds that capability's services and inherits the capabilities it
builds on (`core.Core` at the root). A handler builds the class of what it does (the batcher `Delivery`, the
membership function `Memberships`, ...), so its init imports that capability's modules and no other's; `Container`
(container.py) is every capability at once, for the management API and the CLI.

Every module a handler will run is imported at its init, at the top of these modules: none at a first invocation
(ruff's PLC0415 holds the layer and the handlers to it). A SnapStart function's snapshot then holds all of it, and
a cold start of any other function is its import plus the clients it creates, measured by `make bench`.

An instance is built once per execution environment (a handler's `@cache`, or the CLI's run) and builds each
service on first use; a SnapStart function builds its services before the snapshot (`Core.warm`).
"""
