package tb

// SetSystemRootsEmpty replaces the CA bundle probe for a test; the
// returned function restores it.
func SetSystemRootsEmpty(f func() bool) (restore func()) {
	old := systemRootsEmpty
	systemRootsEmpty = f
	return func() { systemRootsEmpty = old }
}
