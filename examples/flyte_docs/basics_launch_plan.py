# Flyte documentation example, run against flytecore.
# Source: flyteorg/flytesnacks, examples/basics/basics/launch_plan.py
#         (commit 0ce83e109af4e47ebcc47319e774679516092150)
# Licence: Apache License 2.0 (flytesnacks, Copyright the Flyte authors).
# Modified: only the import lines were changed (flytekit -> flytecore; the
# package-relative `from .workflow import simple_wf` -> `from basics_workflow import simple_wf`,
# the file next to this one).
# Note: the original has no `if __name__ == "__main__":` block; it runs the launch plans
# at import time.
from flytecore import LaunchPlan, current_context
from basics_workflow import simple_wf

default_lp = LaunchPlan.get_default_launch_plan(current_context(), simple_wf)
default_lp(x=[-3, 0, 3], y=[7, 4, -2])


simple_wf_lp = LaunchPlan.create(
    name="simple_wf_lp", workflow=simple_wf, default_inputs={"x": [-3, 0, 3], "y": [7, 4, -2]}
)

simple_wf_lp()

simple_wf_lp(x=[3, 5, 3], y=[-3, 2, -2])

simple_wf_lp_fixed_inputs = LaunchPlan.get_or_create(
    name="fixed_inputs", workflow=simple_wf, fixed_inputs={"x": [-3, 0, 3]}
)
