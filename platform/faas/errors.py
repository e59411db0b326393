"""Domain exceptions. Only faas.api maps them to HTTP statuses and the JSON error shape."""


class FaasError(Exception):
    """Base of every error the platform reports to a client."""

    code = "InternalError"

    def __init__(self, message: str, **details):
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidArgument(FaasError):
    code = "InvalidArgument"


class Unauthorized(FaasError):
    code = "Unauthorized"


class Forbidden(FaasError):
    code = "Forbidden"


class TokenNotFound(FaasError):
    code = "TokenNotFound"


class AccessKeyNotFound(FaasError):
    code = "AccessKeyNotFound"


class FunctionNotFound(FaasError):
    code = "FunctionNotFound"


class InvocationNotFound(FaasError):
    code = "InvocationNotFound"


class InvocationEnded(FaasError):
    """A stop asked for an async invocation that had already succeeded or failed."""

    code = "InvocationEnded"


class InvocationAlreadyExists(FaasError):
    """An async invocation with the caller's task id was accepted before (FC's task deduplication)."""

    code = "InvocationAlreadyExists"


class FunctionAlreadyExists(FaasError):
    code = "FunctionAlreadyExists"


class RequestIdInUse(FaasError):
    """An invocation with the same caller-chosen request id is running: its logs would mix with this one's."""

    code = "RequestIdInUse"


class PayloadTooLarge(FaasError):
    code = "PayloadTooLarge"


class BuildFailed(FaasError):
    code = "BuildFailed"


class TooManyRequests(FaasError):
    code = "TooManyRequests"


class ServiceUnavailable(FaasError):
    code = "ServiceUnavailable"


class ContainerStartFailed(ServiceUnavailable):
    """A container could not be created, started or did not become ready: a system error."""


class TriggerNotFound(FaasError):
    code = "TriggerNotFound"


class TriggerAlreadyExists(FaasError):
    code = "TriggerAlreadyExists"


class TriggerLimitExceeded(FaasError):
    code = "TriggerLimitExceeded"


class MethodNotAllowed(FaasError):
    """An HTTP trigger does not accept the request's method; `details["allow"]` lists those it does."""

    code = "MethodNotAllowed"


class VersionNotFound(FaasError):
    code = "VersionNotFound"


class AliasNotFound(FaasError):
    code = "AliasNotFound"


class AliasAlreadyExists(FaasError):
    code = "AliasAlreadyExists"


class VersionLimitExceeded(FaasError):
    code = "VersionLimitExceeded"


class AliasLimitExceeded(FaasError):
    code = "AliasLimitExceeded"


class NothingToPublish(FaasError):
    """LATEST is what the newest version already is."""

    code = "NothingToPublish"


class ResourceInUse(FaasError):
    """A version or alias that an alias or a trigger refers to cannot be deleted."""

    code = "ResourceInUse"



class LayerNotFound(FaasError):
    code = "LayerNotFound"


class LayerVersionLimitExceeded(FaasError):
    code = "LayerVersionLimitExceeded"


class NodeNotFound(FaasError):
    code = "NodeNotFound"
