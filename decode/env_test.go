package decode_test

import "time"

// testBudget is the per-frame budget in tests: large, so that results do
// not depend on how busy the machine is. Speed is measured by benchmarks.
const testBudget = time.Minute
