"""What every sandbox the tests open repeats for nothing, done once per test process.

Each of these is a cache of something that cannot differ between two sandboxes; none
changes what a sandbox deploys or how it behaves:

- botocore's service models: moto hands every `mock_aws` block a new default boto3
  session, and every new session loads the JSON models of each service it makes a
  client for again (seconds per sandbox). The sessions share one loader here, as the
  clients of one session always do.
- moto's check of a state machine definition (a full ASL parse) when it is created:
  a definition already accepted once in this process is accepted again without a
  second parse. Executions still parse their definition as before.
- moto's default AMIs (thousands of EC2 images per region, which the stack never
  uses) are not loaded, as tests/emulator/conftest.py already does.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def shared_sandbox_caches() -> Iterator[None]:
    import botocore.session
    from moto.stepfunctions.parser import models

    loaders: dict[Any, Any] = {}
    create_loader: Callable[..., Any] = botocore.session.create_loader

    def shared_loader(search_path_string: Any = None) -> Any:
        if search_path_string not in loaders:
            loaders[search_path_string] = create_loader(search_path_string)
        return loaders[search_path_string]

    backend = models.StepFunctionsParserBackend
    validate: Callable[[str], None] = backend._validate_definition
    accepted: set[str] = set()

    def validate_once(definition: str) -> None:
        if definition not in accepted:
            validate(definition)  # raises InvalidDefinition as before
            accepted.add(definition)

    saved_amis = os.environ.get("MOTO_EC2_LOAD_DEFAULT_AMIS")
    os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"
    botocore.session.create_loader = shared_loader
    backend._validate_definition = staticmethod(validate_once)
    try:
        yield
    finally:
        backend._validate_definition = staticmethod(validate)
        botocore.session.create_loader = create_loader
        if saved_amis is None:
            os.environ.pop("MOTO_EC2_LOAD_DEFAULT_AMIS", None)
        else:
            os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = saved_amis
