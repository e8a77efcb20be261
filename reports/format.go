package reports

import (
	"math"
	"strconv"
	"strings"
)

// num formats a measurement with as many digits as it deserves:
// 1,204 / 97 / 2.1 / 0.42.
func num(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 100 || v == math.Trunc(v):
		return count(int64(math.Round(v)))
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return trimZeros(strconv.FormatFloat(v, 'f', 1, 64))
	default:
		return trimZeros(strconv.FormatFloat(v, 'f', 2, 64))
	}
}

func trimZeros(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// count formats an integer with thousands separators: 12,345.
func count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// percent formats part/whole as "3.1%", with more digits for small shares.
func percent(part, whole int64) string {
	if whole == 0 {
		return "n/a"
	}
	p := 100 * float64(part) / float64(whole)
	switch {
	case p == 0:
		return "0%"
	case p < 0.01:
		return "<0.01%"
	case p < 0.1:
		return strconv.FormatFloat(p, 'f', 2, 64) + "%"
	case p >= 99.95 && p < 100:
		return strconv.FormatFloat(p, 'f', 2, 64) + "%"
	default:
		return trimZeros(strconv.FormatFloat(p, 'f', 1, 64)) + "%"
	}
}
