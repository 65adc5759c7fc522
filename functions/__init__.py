"""The AWS Lambda functions of the service and the serving code behind them (no torch).

Entry points: `functions.api`, `functions.jobs` and `functions.uploads` (``lambda_handler`` each).
"""
