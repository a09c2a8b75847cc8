package mqtt

import (
	"errors"

	"github.com/tbgw/tbgw/codec"
	"github.com/tbgw/tbgw/codec/conf"
	"github.com/tbgw/tbgw/codec/convert"
)

// newUplink builds the converter of a mapping entry (json, bytes or
// custom) with the mapping-level report strategy.
func newUplink(m *mappingConf, report *codec.Strategy, doc *conf.Doc, path string) (codec.Uplink, error) {
	u, err := convert.New(m.Converter, convert.Options{Report: report})
	if err != nil {
		var ce *convert.Error
		if errors.As(err, &ce) {
			return nil, doc.Errorf(path+"."+ce.Path, "%s", ce.Msg)
		}
		return nil, doc.Errorf(path, "%v", err)
	}
	return u, nil
}
