"""The in-container runtime for Python functions: Function Compute's custom-container protocol, stdlib only.

It serves `POST /initialize`, `POST /invoke`, `GET /pre-stop` and `GET /pre-freeze` on `FC_SERVER_PORT`
(9000), loads the user's handler from `/code` with importlib and answers errors in one stable shape.
"""
