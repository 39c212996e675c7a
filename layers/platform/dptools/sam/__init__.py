"""Reading `template.yaml` the way CloudFormation and SAM would: for `dp invoke` and the local stack."""
