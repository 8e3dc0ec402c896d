"""Building blocks of every construct: the Lambda code asset and function wrappers, the
DynamoDB tables and cluster locks, the CloudHSM IAM helpers, the template walk, and
the Step Functions step helpers.
"""
