"""Function Compute's own APIs, answered with the platform's services: each surface reads its requests
(signed with an access key), translates them into the calls the `/v1` API makes, and writes the answers and
errors in its own shapes. No behaviour lives in one surface only: a function made through one is seen and
invoked through the others.

- `fc3`: FC 3.0 (`/2023-03-30/...`, the `alibabacloud-fc20230330` SDK), signed with ACS3-HMAC-SHA256.
- `fc2`: FC 2.0 (`/2016-08-15/...`, the `aliyun-fc2` SDK), signed with `FC <AccessKeyId>:<signature>`.
- `awslambda`: AWS Lambda (`/2015-03-31/...`, boto3 and the AWS CLI), signed with SigV4.
"""

from aiohttp import web


def add_surfaces(app: web.Application) -> None:
    """Mount every compatibility surface on the platform's app."""
    from . import awslambda, fc2, fc3

    fc3.add_to(app)
    fc2.add_to(app)
    awslambda.add_to(app)
