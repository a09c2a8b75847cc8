package ftp

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"testing"
)

// BenchmarkParseCSV measures the CSV path of a FULL read without the
// network: line reading, splitting, ${Header} templates, typed values and
// row timestamps (b.SetBytes: MB/s of file parsed).
func BenchmarkParseCSV(b *testing.B) {
	pp := compileTestPath(b, `{"devicePatternName":"Meter ${serial}","path":"x/*.csv",
		"attributes":[{"key":"model","value":"${model}"}],
		"timeseries":[{"key":"ts","value":"${ts}"},{"key":"kwh","value":"${kwh}","type":"double"},{"key":"n","value":"${n}","type":"int"}]}`)
	var buf bytes.Buffer
	buf.WriteString("serial,model,ts,kwh,n\n")
	for i := 0; buf.Len() < 8<<20; i++ {
		fmt.Fprintf(&buf, "SN%d,M-%d,%d,%d.%d,%d\n", i%100, i%7, 1700000000000+int64(i), i%1000, i%10, i)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		br := bufio.NewReaderSize(bytes.NewReader(data), 64<<10)
		var hdr *header
		rows := 0
		for {
			line, n, _, err := readLine(br)
			if n == 0 {
				break
			}
			if hdr == nil {
				hdr = newHeader(string(line), ",")
			} else if _, cerr := pp.rows.convert(string(line), hdr, 0); cerr == nil {
				rows++
			}
			if err == io.EOF {
				break
			}
		}
		if rows == 0 {
			b.Fatal("no rows")
		}
	}
}
