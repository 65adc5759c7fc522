"""The CDK app (`infra.app`) and the settings the deployed and the local service share.

The Lambda package carries this file and `infra.settings` (the functions read their limits
there), so importing the package must stay free of aws_cdk and of anything else heavy.
"""
