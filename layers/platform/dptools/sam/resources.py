"""Facts about CloudFormation resource types that resolving `Fn::GetAtt` needs."""

from __future__ import annotations

ARN_FORMAT: dict[str, str] = {
    "AWS::S3::Bucket": "arn:aws:s3:::{name}",
    "AWS::SQS::Queue": "arn:aws:sqs:{region}:{account}:{name}",
    "AWS::Events::EventBus": "arn:aws:events:{region}:{account}:event-bus/{name}",
    "AWS::DynamoDB::Table": "arn:aws:dynamodb:{region}:{account}:table/{name}",
    "AWS::Serverless::Function": "arn:aws:lambda:{region}:{account}:function:{name}",
    "AWS::SecretsManager::Secret": "arn:aws:secretsmanager:{region}:{account}:secret:{name}",
    "AWS::Serverless::StateMachine": "arn:aws:states:{region}:{account}:stateMachine:{name}",
    "AWS::StepFunctions::StateMachine": "arn:aws:states:{region}:{account}:stateMachine:{name}",
    "AWS::KMS::Key": "arn:aws:kms:{region}:{account}:key/{name}",
    "AWS::IAM::Role": "arn:aws:iam::{account}:role/{name}",
    "AWS::EMRServerless::Application": "arn:aws:emr-serverless:{region}:{account}:/applications/{name}",
    "AWS::SNS::Topic": "arn:aws:sns:{region}:{account}:{name}",
}


def arn_for(resource_type: str, name: str, region: str, account: str) -> str | None:
    """The ARN of a resource of `resource_type` called `name`, or None for types not listed."""
    pattern = ARN_FORMAT.get(resource_type)
    return pattern.format(region=region, account=account, name=name) if pattern else None
