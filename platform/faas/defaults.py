"""Every default and limit of the platform, each documented where it is defined."""

from . import runtimes

# -- the API server
PORT = 8080
"""Port the REST API listens on (FAAS_PORT)."""

HOST = "127.0.0.1"
"""Address the REST API binds to (FAAS_HOST); loopback unless the operator opens it."""

KEEPALIVE_TIMEOUT_S = 15.0
"""Seconds a client connection may stay silent (no request, or a request's headers not complete) before
the API closes it (FAAS_KEEPALIVE_TIMEOUT): idle connections cannot pile up."""

REDIS_URL = "redis://127.0.0.1:6379/0"
"""Redis of the registry, queues and logs when FAAS_REDIS_URL is unset."""

REDIS_PREFIX = "faas"
"""Prefix of every Redis key the platform writes (FAAS_REDIS_PREFIX)."""

REDIS_SERVICE = "faas"
"""The Redis primary's name in the Sentinels' configuration (FAAS_REDIS_SERVICE)."""

REDIS_REPLICA_WAIT_S = 1.0
"""Longest wait for FAAS_REDIS_MIN_REPLICAS replicas to hold an accepted async event (Redis WAIT)."""

# -- function spec: defaults and ranges (FC's where it has them)
NAME_PATTERN = r"^[a-z][a-z0-9-]{0,62}$"
"""What a function name may be."""

RUNTIMES = tuple(runtimes.RUNTIMES)
"""What a function's `runtime` may be (faas.runtimes declares each)."""

SANDBOXES = {"runc": None, "gvisor": "runsc"}
"""A function's `sandbox`, and the Docker runtime that runs its containers (None: the engine's default, runc).
gVisor's runsc runs them in a user-space kernel: a bug of the host's kernel is no longer one system call
away, at the cost of slower cold starts and calls (see README)."""

HANDLER_TYPES = ("event", "wsgi", "lambda")
"""How a Python function is called: with an event, as a WSGI application (an HTTP function), or as Lambda's
Python runtime calls a handler (the event JSON-decoded, its result JSON-encoded, Lambda's context)."""
CONTAINER_PROTOCOLS = ("fc", "lambda")
"""How a custom container is called: FC's custom-container protocol, or Lambda's Runtime API (a Lambda image)."""
LAMBDA_REGION = "us-east-1"
"""The region a Lambda-shaped function sees (AWS_REGION, its ARN) unless its environment names one: the Lambda
surface names the one a function was made in."""

SANDBOX = "runc"
"""The sandbox of a function that names none (FAAS_SANDBOX)."""
"""Runtimes a function can use."""

MEMORY_MB = 128
"""Memory limit of one function container, in MiB."""

MEMORY_MB_RANGE = (128, 16384)
"""Smallest and largest memoryMB; it must also be a multiple of MEMORY_MB_STEP."""

MEMORY_MB_STEP = 64
"""memoryMB is a multiple of this."""

TIMEOUT_S = 60
"""Seconds one invocation may run before its container is killed."""

TIMEOUT_S_RANGE = (1, 86400)
"""Smallest and largest timeoutSeconds."""

INIT_TIMEOUT_S = 30
"""Seconds the initializer may run."""

INIT_TIMEOUT_S_RANGE = (1, 600)
"""Smallest and largest initializationTimeoutSeconds."""

INSTANCE_CONCURRENCY = 1
"""Invocations one container serves at once."""

INSTANCE_CONCURRENCY_RANGE = (1, 200)
"""Smallest and largest instanceConcurrency."""

MAX_INSTANCES = 10
"""Containers one function may have at once."""

MAX_INSTANCES_RANGE = (1, 100)
"""Smallest and largest maxInstances."""

RESERVED_INSTANCES_RANGE = (0, 100)
"""Smallest and largest reservedInstances (never above maxInstances)."""

KEEP_ALIVE_S = 300
"""Seconds an idle container is kept warm before it is reclaimed, under the `fixed` keep-alive policy when
keepAliveSeconds is not given."""

KEEP_ALIVE_POLICIES = ("adaptive", "fixed")
"""A function's keepAlivePolicy: `adaptive` learns each version's idle times and keeps its containers for the
window worth their memory, pre-warming one before a predicted call (pool/keepalive); `fixed` keeps them
keepAliveSeconds after every call, as the peers do."""

KEEP_ALIVE_POLICY = "adaptive"
"""The keepAlivePolicy of a function that gives none."""

ADAPTIVE_KEEP_ALIVE_CAP_S = 86400
"""The longest window the adaptive policy keeps a container when the function gives no keepAliveSeconds (an
explicit keepAliveSeconds is the cap)."""

KEEP_ALIVE_S_RANGE = (0, 86400)
"""Smallest and largest keepAliveSeconds."""

PAUSE_AFTER_S_RANGE = (1, 86400)
"""Smallest and largest pauseAfterSeconds (absent or null: containers are never paused)."""

ASYNC_RETRIES = 3
"""Times an async event is retried after a function error."""

ASYNC_RETRIES_RANGE = (0, 8)
"""Smallest and largest async.retries."""

MAX_EVENT_AGE_S_RANGE = (1, 86400)
"""Smallest and largest async.maxEventAgeSeconds."""

ON_FAILURE = "queue:dead-letter"
"""Where failed async events go when the function names no onFailure."""

ENV_TOTAL_BYTES = 4096
"""Largest total size of a function's environment variables (names and values)."""

REQUEST_ID = r"[A-Za-z0-9-]{1,64}"
"""What a request id may be (a caller may choose its own): the API checks it, the log collector parses it."""

# -- payloads
SYNC_EVENT_BYTES = 6 * 1024 * 1024
"""Largest event of a sync invocation."""

ASYNC_EVENT_BYTES = 256 * 1024
"""Largest event of an async invocation."""

RESPONSE_BYTES = 6 * 1024 * 1024
"""Largest result a sync invocation returns; a larger one is an error."""

CODE_ZIP_BYTES = 50 * 1024 * 1024
"""Largest code zip, decoded."""

CODE_UNZIPPED_BYTES = 512 * 1024 * 1024
"""Largest total size of a code zip's files once unpacked (guards against zip bombs)."""

CODE_ZIP_ENTRIES = 20000
"""Most entries a code zip may hold."""

REQUEST_BYTES = 72 * 1024 * 1024
"""Largest HTTP request body the API reads (a 50 MB zip in base64, plus the spec)."""

# -- containers
RUNTIME_PORT = 9000
"""Port of the runtime inside a function container (FC_SERVER_PORT)."""

RUNTIME_SOCKET = "/tmp/.faas-runtime.sock"
"""Unix socket the runtime also listens on (FC_SERVER_SOCKET); the control plane prefers it to the port."""
SOCKET_MOUNT = "/run/faas-socket"
"""Where a container's own socket directory is mounted when FAAS_SOCKET_DIR is set; the runtime's socket is
then SOCKET_MOUNT/runtime.sock, reached from the host through that directory instead of /proc/<pid>/root."""

CONTAINER_USER = "10001:10001"
"""Unprivileged user function containers run as."""

PIDS_LIMIT = 256
"""Most processes and threads in one function container."""

TMPFS_MB = 512
"""Largest writable /tmp of a function container, in MiB. It is memory (a tmpfs), counted against memoryMB:
a container's /tmp is half its memoryMB, up to this."""

SHM_MB = 64
"""Largest /dev/shm of a function container, in MiB; it is a quarter of memoryMB, up to this."""

CPU_PER_GB = 1.0
"""CPUs a container gets per GiB of memoryMB (CPU in proportion to memory)."""

MIN_CPUS = 1.0
"""Fewest CPUs a container may use, however small its memory (its weight stays in proportion to memory)."""

LOG_MAX_SIZE = "10m"
"""Largest json-file log of one container before Docker rotates it."""

READY_TIMEOUT_S = 30
"""Seconds a new container has to answer on its port before the start counts as failed."""

DOCKER_THREADS = 16
"""Threads (and HTTP connections) for blocking Docker SDK calls."""

BUILD_CONCURRENCY = 2
"""Image builds that run at once."""

HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
"""The host's CA bundle, which pip in builds trusts unless FAAS_BUILD_CA_BUNDLE says otherwise."""

BUILD_LOG_BYTES = 64 * 1024
"""How much of a build log is kept."""

BUILD_LOG_TAIL_BYTES = 4096
"""How much of a failed build's log a 422 answer carries."""

PREWARM_MIN_GAP_S = 30.0
"""The adaptive policy pre-warms only when the pre-warm comes at least this long after the call
(FAAS_PREWARM_MIN_GAP): releasing a container and starting another costs the engine about half a second of CPU,
not worth it for less."""

REAPER_INTERVAL_S = 1.0
"""Seconds between two maintenance passes: reclaim idle containers, pause, keep reserved ones up."""

HEALTH_INTERVAL_S = 10.0
"""Seconds between two health passes: a `docker ps` for containers whose end Docker's events did not report
(the events take an idle one out at once), the network, the cells' mounts, strays, unused unpacked code. Each
pass costs the engine ~35 ms of CPU and the control plane ~20 ms with 20 containers: at 2 s, an idle platform
spent 3% of a core on them."""

QUEUE_TIMEOUT_S = 10.0
"""Seconds a sync request waits for a container when none is free and none can start, before 429."""

QUEUE_LENGTH = 200
"""Requests that may wait for a container, per function; one more gets 429 at once."""

MAX_CONCURRENT_STARTS = 8
"""Containers that start at once on the host; more wait for a slot."""

CELLS_MIN = 4
"""Cells kept ready for the default memory class (FAAS_CELLS_MIN); see the README for the measurements."""
CELLS_MAX = 16
"""Most cells kept ready per memory class (FAAS_CELLS_MAX); 0 turns cells off."""
CELLS_DIR = "/var/lib/faas/cells"
"""Where cells' code directories and the unpacked files of function versions live (FAAS_CELLS_DIR)."""

HOST_MEMORY_FRACTION = 0.75
"""Share of the host's memory that function containers may take (the sum of their memoryMB)."""

REGISTRY_CACHE_S = 1.0
"""Seconds a function's record read from Redis is reused for invocations before it is read again."""

# -- asynchronous invocations
WORKERS = 2
"""Async worker processes that scripts/up starts (FAAS_WORKERS)."""

WORKER_CONCURRENCY = 16
"""Events one worker process runs at once (threads waiting on the control plane)."""

WORKER_LEASE_S = 15.0
"""Seconds a worker's claim on its events lasts without a heartbeat; then they run again elsewhere."""

FUNCTION_RETRY_BASE_S = 1.0
"""First wait before an async event is retried after a function error; it doubles each time."""

SYSTEM_RETRY_INITIAL_S = 1.0
"""First wait before an async event is retried after a system error (exponential, with jitter)."""

SYSTEM_RETRY_MAX_WAIT_S = 300.0
"""Longest single wait between two system retries of an async event."""

RESULT_TTL_S = 86400
"""Seconds an ended invocation's record (status, result) is kept."""

ASYNC_RECENT = 1000
"""Async events a function's listing (GET /v1/functions/{name}/invocations) can reach, newest first."""

RECENT_TTL_S = 7 * 86400
"""Seconds the index of a function's recent async events outlives its last write."""

ASYNC_LIST_LIMIT = 100
"""Most async events one listing returns."""

STATS_WINDOW_S = 3600
"""The window of GET /v1/stats: each function's invocations, errors and cold starts in the last hour."""

QUEUE_MAX_MESSAGES = 100_000
"""Most messages one queue holds (FAAS_QUEUE_MAX_MESSAGES): publishing to a full queue is refused (429), and
nothing is dropped to make room. A queue with triggers drops a message once every trigger has taken it and its
invocation ended; a queue without triggers keeps its messages until a reader deletes them."""

QUEUE_MAX_MB = 64
"""Most memory one queue's stream takes in Redis, in MB (FAAS_QUEUE_MAX_MB; Redis's MEMORY USAGE, sampled)."""

QUEUES_MAX_MB = 512
"""Most memory all queues together take in Redis, in MB (FAAS_QUEUES_MAX_MB): publishing to any queue is refused
(429) past it. Destination records are written whatever the limits (refusing them would lose an outcome):
they count toward the limits, and Redis's own maxmemory bounds them."""

QUEUE_FULL_RETRY_AFTER_S = 5
"""Retry-After of a publish refused because a queue is full."""

QUEUES_TOTAL_REFRESH_S = 1.0
"""Seconds the control plane trusts its sum of all queues' memory before it asks Redis again."""


SWEEP_INTERVAL_S = 0.5
"""Seconds between passes that start due retries and wake workers."""

AUDIT_INTERVAL_S = 15.0
"""Seconds between audits that find events no queue or worker holds (lost by a crash) and run them again."""

# -- logs
LOG_TTL_S = 86400
"""Seconds the logs of an invocation are kept."""

LOG_FOLLOW_S = 3600
"""Longest a `follow` stream of function logs stays open (FAAS_LOG_FOLLOW_SECONDS); faasctl asks again after."""

LOG_INVOCATION_BYTES = 64 * 1024
"""Most log bytes kept for one invocation; the rest is dropped (a line says so)."""

LOG_FUNCTION_LINES = 5000
"""Most recent log lines kept for one function (a Redis stream, trimmed)."""

LOG_MAX_MB = 256
"""Most memory all logs may take in Redis (FAAS_LOG_MAX_MB): the largest functions' logs are trimmed first."""

LOG_FUNCTION_MB = 16
"""Most memory one function's logs may take in Redis (FAAS_LOG_FUNCTION_MB): half for its invocation logs,
half for its stream of recent lines."""

LOG_FUNCTION_INVOCATIONS = 1000
"""Most invocation logs kept per function (of invocations that printed); the oldest go first."""

LOG_BUDGET_INTERVAL_S = 5.0
"""Seconds between the log collector's checks of the log memory against FAAS_LOG_MAX_MB."""

LOG_LINE_BYTES = 8192
"""Longest log line kept; a longer one is cut."""

LOG_TAIL_BYTES = 4096
"""Bytes of an invocation's log returned in X-Fc-Log-Result (base64) for X-Fc-Log-Type: Tail."""

NETWORK = "faas-functions"
"""Docker bridge network of function containers; containers on it cannot reach each other."""

# -- triggers
TRIGGERS_PER_FUNCTION = 10
"""Most triggers one function may have."""
TRIGGER_NAME_PATTERN = r"[a-zA-Z][a-zA-Z0-9_-]{0,127}"
"""What a trigger name may be."""
TRIGGER_BODY_BYTES = 256 * 1024
"""Largest body of a trigger create or update request."""
HTTP_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")
"""Methods an HTTP trigger may accept (all of them by default)."""
HTTP_TRIGGER_HEADER_BYTES = 8 * 1024
"""Largest total size of the headers of a request through an HTTP trigger (names and values)."""
HTTP_TRIGGER_URL_BYTES = 4 * 1024
"""Largest path plus query string of a request through an HTTP trigger."""
TIMER_MIN_INTERVAL_S = 1
"""Shortest interval of an `@every` timer."""
TIMER_MAX_INTERVAL_S = 366 * 86400
"""Longest interval of an `@every` timer."""
TIMER_PAYLOAD_BYTES = 64 * 1024
"""Largest payload of a timer trigger."""
TIMER_MAX_SLEEP_S = 0.5
"""Longest a timer scheduler sleeps before it looks for due timers again (changes by other control planes)."""
QUEUE_MESSAGE_BYTES = 256 * 1024
"""Largest message published to a queue."""
QUEUE_BATCH_RANGE = (1, 100)
"""Smallest and largest batchSize of a queue trigger."""
QUEUE_WINDOW_S_RANGE = (0, 60)
"""Smallest and largest batchWindowSeconds of a queue trigger."""
QUEUE_INFLIGHT_BATCHES = 64
"""Batches of one queue trigger that may be on their way (accepted, not yet ended) at once; the rest of the
queue waits in the stream, where its backlog is visible."""
QUEUE_POLL_S = 0.05
"""Seconds a queue trigger poller waits before it looks again when a queue had nothing to deliver."""

# -- versions and aliases
LATEST = "LATEST"
"""The qualifier of what PUT /v1/functions/{name} changes: the function as it is now."""
VERSIONS_PER_FUNCTION = 100
"""Most published versions one function may keep (delete old ones to publish more)."""
ALIASES_PER_FUNCTION = 50
"""Most aliases one function may have."""
ALIAS_NAME_PATTERN = r"[a-zA-Z][a-zA-Z0-9_-]{0,127}"
"""What an alias name may be (never LATEST, and never all digits, which is a version id)."""
VERSION_ID_PATTERN = r"[1-9][0-9]{0,9}"
"""What a version id is: 1, 2, ..."""
FUNCTION_LIST_LIMIT = 100
"""Most functions in one page of GET /v1/functions (with `limit`, `nextToken` or `prefix`; without, all of them)."""
VERSION_LIST_LIMIT = 100
"""Most versions one page of GET .../versions lists."""
ALIAS_WARM_TIMEOUT_S = 60.0
"""Longest an alias move waits for the reserved containers of its new version to be ready before it moves."""

# -- several hosts (FAAS_ROLE=frontend and node)
NODE_PORT = 8090
"""Where a node agent (faas-node) serves its internal API by default."""
NODE_HEARTBEAT_S = 1.0
"""Seconds between two heartbeats of a node agent to Redis."""
NODE_TTL_MS = 2500
"""A node's heartbeat expires after this many ms: a node that stops beating leaves every ranking within it,
plus one NODE_VIEW_S."""
NODE_VIEW_S = 0.25
"""Seconds between two reads of the live nodes by a front end."""
NODE_SUSPECT_S = 3.0
"""A node a front end could not connect to is left out of its rankings this long (unless it beats again
after that)."""
NODE_CONNECT_TIMEOUT_S = 1.0
"""Longest a front end waits to connect to a node before it tries the next one."""
NODE_KEEPALIVE_S = 3600.0
"""Seconds a node keeps a front end's idle connection open (long: a request sent just as the node closes an
idle connection would fail)."""
NODE_DRAIN_TIMEOUT_S = 120.0
"""Longest a drain waits for a node's invocations under way to end."""
IMAGE_COPIES = 2
"""Nodes that receive a function version's image when it is deployed: the top of its ranking."""
NODE_REQUEST_BYTES = 64 << 20
"""Largest body the node API takes (an event, a record); images are streamed, without this limit."""

CODE_URL_TTL_S = 600
"""How long a download URL of a function's code (FC's GetFunctionCode) works."""

# -- layers
LAYERS_PER_FUNCTION = 5
"""Layer versions a function's spec may list (FC's and Lambda's limit)."""

VERSIONS_PER_LAYER = 100
"""Versions a layer may have at once (its version numbers are never reused)."""

LAYER_REF_PATTERN = r"^([a-z][a-z0-9-]{0,62})(?::([1-9][0-9]{0,9}))?$"
"""A layer version as a spec lists it: `name:version`, or `name` for its newest version (stored as `name:N`)."""

LAYER_DIR = "/opt"
"""Where a function's layers' files appear, read-only (their Python packages in /opt/python, as on FC and Lambda)."""
