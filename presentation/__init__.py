"""Text for people, shared by the operator CLI (hsmdr/) and the sandbox (sandbox/):
plain-text tables, durations and timestamps, the verification report, and a Step
Functions execution history as a timeline of steps. Standard library only; it imports
no other package of this project, so both can import it (see the layers in
pyproject.toml's [tool.importlinter])."""
