# Print "file:line name (N lines)" for every function definition longer than max lines,
# counted from the first line of its signature to its closing brace.
BEGIN { depth = 0; start = 0 }
{
	if (depth == 0 && !start && $0 ~ /^[A-Za-z_].*\(/) { start = FNR; name = $0 }
	if (depth == 0 && $0 ~ /;[ \t]*$/ && $0 !~ /\{/) start = 0
	n = gsub(/\{/, "{"); m = gsub(/\}/, "}")
	if (depth == 0 && n > 0) { fstart = start; start = 0 }
	depth += n - m
	if (depth == 0 && m > 0 && fstart) {
		len = FNR - fstart + 1
		if (len > max) printf "%s:%d %s (%d lines)\n", FILENAME, fstart, name, len
		fstart = 0
	}
}
