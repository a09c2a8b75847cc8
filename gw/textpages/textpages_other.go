//go:build !linux

package textpages

// Release does nothing outside Linux.
func Release() (int, error) { return 0, nil }
