"""The words the command line, the records and the code share, and the built-in defaults of the settings:
plain values, importing nothing, so that `pyinstall --help` loads nothing else to say them."""

CONNECT_TIMEOUT = 10.0  # seconds: TCP connect, SSH banner and authentication, each
FORKS = 20  # hosts worked on at once, unless --forks or the config file says otherwise
FORKS_MAX = 1000  # a thread and an SSH session each: beyond this the controller runs out of descriptors
TIMEOUT_MAX = 3600.0  # seconds: a connect timeout longer than an hour is a typo

# What provision does, in the order it does it: the names --tags and --skip-tags take (plan.py tags each
# operation with one).
TAGS = (
    "repo",
    "packages",
    "cgroups",
    "config",
    "proxy",
    "registries",
    "sysctl",
    "users",
    "service",
    "images",
    "validate",
)

# A finished run's status in one word, by its exit status (cli.ExitStatus); any other is an error.
RUN_STATUSES = {0: "ok", 1: "error", 2: "failed", 4: "unreachable", 5: "error", 130: "interrupted",
                143: "interrupted"}  # fmt: skip
RUN_STATUS_WORDS = ("ok", "failed", "unreachable", "error", "interrupted", "unfinished")

# The commands whose runs are kept (installer/kept.py): what `runs --command` and runs serve filter on.
KEPT_COMMANDS = ("check", "provision", "remove", "info", "verify", "exec")
