// Package reports turns a bench's results.json into what people look at:
// charts (PNG and SVG), REPORT.md, a self-contained report.html, the
// end-of-run terminal table, the live progress view while a bench runs, and
// the comparison of two runs.
//
// Everything here is a pure function of results.File (plus the raw
// histograms beside it when there are any): no clocks, no map-order
// iteration, no randomness, so `offload report DIR` reproduces a bench's
// report byte for byte. Every sentence in a verdict is generated from a
// measured number with its threshold stated, never written in advance.
package reports
