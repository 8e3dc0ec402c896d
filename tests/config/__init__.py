"""Tests of the deployment config model (stacks/config/)."""
