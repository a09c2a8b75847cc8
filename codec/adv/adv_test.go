package adv

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/tbgw/tbgw/codec/att"
)

func h(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// An iBeacon-style report plus a scan response, as a controller delivers
// them (flags, manufacturer data, then name and service data).
func TestParse(t *testing.T) {
	raw := h("020106 1aff4c000215 e2c56db5dffb48d2b060d0f5a71096e0 0001 0002 c5" +
		"0b094c5957534430334d4d43 05161a180102 020af4 0303 0f18")
	d, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if d.Flags != 0x06 || d.Name != "LYWSD03MMC" || len(d.Manufacturer) != 1 || d.Manufacturer[0].Company != 0x004C ||
		len(d.Manufacturer[0].Data) != 23 || d.TxPower == nil || *d.TxPower != -12 {
		t.Fatalf("%+v", d)
	}
	if len(d.ServiceData) != 1 || d.ServiceData[0].UUID != att.UUID16(0x181A) || !bytes.Equal(d.ServiceData[0].Data, []byte{1, 2}) {
		t.Fatalf("service data %+v", d.ServiceData)
	}
	if len(d.Services) != 1 || d.Services[0] != att.UUID16(0x180F) {
		t.Fatalf("services %+v", d.Services)
	}
	// Builder output parses back.
	b := new(Builder).Name("x").Manufacturer(0x59, []byte{1}).ServiceData(att.MustUUID("226CAA55-6476-4566-7562-66734470666D"), []byte{2}).Bytes()
	d, err = Parse(b)
	if err != nil || d.Name != "x" || d.Manufacturer[0].Company != 0x59 || d.ServiceData[0].Data[0] != 2 {
		t.Fatalf("%+v %v", d, err)
	}
	// Zero padding ends the data.
	if d, err := Parse(h("0201060000000000")); err != nil || d.Flags != 6 {
		t.Fatalf("padding: %+v %v", d, err)
	}
}

func TestMalformed(t *testing.T) {
	for _, s := range []string{"05ff4c00", "02ff4c", "0316 1a", "0403 0f180a", "1f09"} {
		if _, err := Parse(h(s)); err == nil {
			t.Errorf("%s: no error", s)
		}
	}
	// Fields before a bad structure are kept.
	d, err := Parse(h("03094142 05ff4c"))
	if err == nil || d.Name != "AB" {
		t.Errorf("%+v %v", d, err)
	}
}

// FuzzParse: advertising data from the air never panics the parser.
func FuzzParse(f *testing.F) {
	f.Add(h("020106 1aff4c000215e2c56db5dffb48d2b060d0f5a71096e000010002c5"))
	f.Add(h("0b094c5957534430334d4d43 05161a180102 020af4 03030f18"))
	f.Add(h("1107 6d667044736662756645766455aa6c22"))
	f.Add(h("05ff4c"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, _ := Parse(b)
		for _, m := range d.Manufacturer {
			_ = m.Data
		}
	})
}
