package anomaly

// NearestAll exposes the bank search to the tests.
func (b *Bank) NearestAll(q []float32) []float32 { return b.nearestAll(q) }
