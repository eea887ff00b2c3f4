# Flyte documentation example, run against flytecore.
# Source: flyteorg/flytesnacks, examples/basics/basics/hello_world.py
#         (commit 0ce83e109af4e47ebcc47319e774679516092150)
# Licence: Apache License 2.0 (flytesnacks, Copyright the Flyte authors).
# Modified: only the import lines were changed (flytekit -> flytecore).
from flytecore import task, workflow


@task
def say_hello() -> str:
    return "Hello, World!"


@workflow
def hello_world_wf() -> str:
    res = say_hello()
    return res


if __name__ == "__main__":
    print(f"Running hello_world_wf() {hello_world_wf()}")
