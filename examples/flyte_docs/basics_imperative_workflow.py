# Flyte documentation example, run against flytecore.
# Source: flyteorg/flytesnacks, examples/basics/basics/imperative_workflow.py
#         (commit 0ce83e109af4e47ebcc47319e774679516092150; the same code, with explanatory
#          comments, is at commit 560577c0e249525cc3b790801616b40282dbcf0b and mirrored as
#          example_code/basics/basics/imperative_workflow.py, commit a63213a4c6c3562fa73e4df74be9209cfeb49267)
# Licence: Apache License 2.0 (flytesnacks, Copyright the Flyte authors).
# Modified: only the import lines were changed (flytekit -> flytecore; the package-relative
#           `from .workflow import ...` -> the sibling module `basics_workflow`).
from flytecore import Workflow
from basics_workflow import intercept, slope


imperative_wf = Workflow(name="imperative_workflow")
imperative_wf.add_workflow_input("x", list[int])
imperative_wf.add_workflow_input("y", list[int])

node_t1 = imperative_wf.add_entity(slope, x=imperative_wf.inputs["x"], y=imperative_wf.inputs["y"])
node_t2 = imperative_wf.add_entity(
    intercept, x=imperative_wf.inputs["x"], y=imperative_wf.inputs["y"], slope=node_t1.outputs["o0"]
)

imperative_wf.add_workflow_output("wf_output", node_t2.outputs["o0"])

if __name__ == "__main__":
    print(f"Running imperative_wf() {imperative_wf(x=[-3, 0, 3], y=[7, 4, -2])}")
