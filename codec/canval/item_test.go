package canval

import (
	"fmt"
	"testing"
)

// leadingInt accepts what fmt.Sscanf(s, "%d") accepted, with the same
// value for the lengths callers allow.
func TestLeadingIntMatchesSscanf(t *testing.T) {
	for _, s := range []string{"", " ", "8", "-1", "+5", "007", " 12", "\t3", "\r4", "\r\n4", "\n4", "\u00a05", "\u30006",
		"4x", "4 5", "-", "+", "x4", "0x10", "1_0", "-0", "99", "100", "-2", "99999999999999999999", "-99999999999999999999",
		"\xff4", "４", "1.5", "1e2"} {
		var want int
		_, err := fmt.Sscanf(s, "%d", &want)
		got, ok := leadingInt(s)
		if err == nil && want >= -1000 && want <= 1000 && (!ok || got != want) || err != nil && ok && got >= -1000 && got <= 1000 {
			t.Errorf("leadingInt(%q) = %d, %v; Sscanf: %d, %v", s, got, ok, want, err)
		}
		if wantOK, gotOK := err == nil && want >= -1 && want != 0 && want <= 99, ok && got >= -1 && got != 0 && got <= 99; wantOK != gotOK {
			t.Errorf("leadingInt(%q): accepted %v, Sscanf %v", s, gotOK, wantOK)
		}
	}
}
