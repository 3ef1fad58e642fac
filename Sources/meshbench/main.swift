import LabCore
import Orchestrator

// A component started by `meshbench run` pins itself and joins its cgroup before any thread exists. `meshbench run`
// starts its components through `meshbench exec`, which does this before exec'ing the component; the component's
// own call then finds itself already placed.
ChildPlacement.adoptFromEnvironment()

// Exit codes (docs/ARCHITECTURE.md): 0 ok, 1 run or gate failed, 2 bad input.
await CommandMain.run(Meshbench.self, name: "meshbench")
