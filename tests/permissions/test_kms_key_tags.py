"""KMS evaluates aws:ResourceTag on its keys: the sandbox reads a key's tags (which the
provisioner sets from the template's Tags, stack tags included, as CloudFormation does)
so a grant conditioned on them is judged as AWS judges it."""

from __future__ import annotations

import boto3
from moto import mock_aws

from sandbox.permissions.resources import ResourceFacts
from sandbox.provisioners.security import kms_key


class Context:
    """What kms_key needs of the provisioning context."""

    def client(self, service: str) -> object:
        return boto3.client(service, region_name="us-west-2")


@mock_aws
def test_a_keys_template_tags_are_its_resource_tags() -> None:
    provisioned = kms_key(
        Context(),  # type: ignore[arg-type]
        "ReportKey",
        {"Tags": [{"Key": "hsmdr:deployment", "Value": "prod"}]},
    )
    arn = provisioned.attributes["Arn"]
    facts = ResourceFacts("123456789012", None)
    assert facts.resource_tags("kms", arn) == {"hsmdr:deployment": "prod"}
    untagged = boto3.client("kms", region_name="us-west-2").create_key()["KeyMetadata"]["Arn"]
    assert facts.resource_tags("kms", untagged) == {}
    assert facts.resource_tags("kms", arn.replace(arn.rsplit("/", 1)[1], "gone")) == {}
