// Package codec is the data model and converter contract shared by the
// connectors (drivers/...) and the gateway core, plus the registry of
// custom converters.
//
// [Data] and [Point] are what uplink converters produce; they are type
// aliases of gw/connector's, so a connector hands converter output to its
// Sink unchanged. [Uplink] and [Downlink] are the converter interfaces;
// [RegisterUplink]/[RegisterDownlink] let a product compile in its own
// converter under the name its configuration gives in
// "type": "custom", "extension": "<name>"; [NewUplink] builds one.
// [StrategyConfig] decodes an upstream "reportStrategy" block.
//
// Subpackages, all pure (no I/O, no goroutines) and fuzzed:
//
//	codec/jpath      JSON payload index and JSONPath subset, allocation-light
//	codec/tmpl       ${...} templates: uplink over JSON, downlink ${deviceName}, ${params.x}, ...
//	codec/value      typed conversion by upstream type names (int, double, bool, string, json)
//	codec/tstamp     timestamp parsing (epoch, ISO-8601, dateutil-style dayfirst/yearfirst)
//	codec/pyre       Python-syntax regular expressions (look-around) for topics and filters
//	codec/bytesexpr  byte-slice templates [i] [a:b] [:] with UTF-8/hex/decimal rendering
//	codec/field      CAN-style start:length:order:type byte fields, bit fields
//	codec/expr       a small sandboxed expression language (useEval, CAN, ODBC)
//	codec/convert    the JSON and bytes uplink converters and device naming
//	codec/conf       configuration decoding with file:line:col errors
//
// This package imports nothing from tbgw.
package codec
