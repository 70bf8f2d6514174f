package kubeconfig

import (
	"fmt"
	"strconv"
	"strings"
)

// A YAML subset, enough for the kubeconfig files CNI installers (Calico, Multus, Cilium,
// kubeadm) write: block mappings and block sequences by indentation, "- key: value" items,
// plain, 'single' and "double" quoted scalars, comments, a leading "---", and the empty flow
// collections {} and []. Anchors, tags, block scalars (| >) and other flow collections are
// refused with an error naming the line, never guessed at. Scalars stay strings.

type line struct {
	number  int
	indent  int
	content string
}

// ParseYAML decodes the subset into map[string]interface{}, []interface{} and string values.
func ParseYAML(text string) (interface{}, error) {
	lines, err := splitLines(text)
	if err != nil {
		return nil, err
	}
	if len(lines) == 0 {
		return map[string]interface{}{}, nil
	}
	if lines[0].indent != 0 {
		return nil, fmt.Errorf("line %d: the document must start at column 1", lines[0].number)
	}
	p := &parser{lines: lines}
	value, err := p.node(0)
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.lines) {
		l := p.lines[p.pos]
		return nil, fmt.Errorf("line %d: unexpected indentation or content %q", l.number, l.content)
	}
	return value, nil
}

func splitLines(text string) ([]line, error) {
	var out []line
	for i, raw := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		number := i + 1
		trimmed := strings.TrimLeft(raw, " ")
		if strings.HasPrefix(trimmed, "\t") {
			return nil, fmt.Errorf("line %d: tabs are not allowed for indentation", number)
		}
		content, err := stripComment(trimmed)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", number, err)
		}
		content = strings.TrimRight(content, " \t")
		if content == "" {
			continue
		}
		if content == "---" && len(out) == 0 && len(raw) == 3 {
			continue
		}
		if content == "---" || content == "..." {
			return nil, fmt.Errorf("line %d: only one YAML document is supported", number)
		}
		out = append(out, line{number: number, indent: len(raw) - len(trimmed), content: content})
	}
	return out, nil
}

// stripComment removes a "#" comment that starts a line or follows a space, outside quotes.
func stripComment(text string) (string, error) {
	quote := byte(0)
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case quote == '"' && c == '\\':
			i++
		case quote != 0 && c == quote:
			if quote == '\'' && i+1 < len(text) && text[i+1] == '\'' {
				i++
				continue
			}
			quote = 0
		case quote == 0 && (c == '"' || c == '\'') && (i == 0 || strings.ContainsRune(" :-[{,", rune(text[i-1]))):
			quote = c
		case quote == 0 && c == '#' && (i == 0 || text[i-1] == ' ' || text[i-1] == '\t'):
			return text[:i], nil
		}
	}
	return text, nil
}

type parser struct {
	lines []line
	pos   int
}

func (p *parser) node(indent int) (interface{}, error) {
	l := p.lines[p.pos]
	if isSeqItem(l.content) {
		return p.sequence(l.indent)
	}
	return p.mapping(l.indent)
}

func isSeqItem(content string) bool {
	return content == "-" || strings.HasPrefix(content, "- ")
}

func (p *parser) mapping(indent int) (interface{}, error) {
	out := map[string]interface{}{}
	for p.pos < len(p.lines) {
		l := p.lines[p.pos]
		if l.indent < indent {
			break
		}
		if l.indent > indent {
			return nil, fmt.Errorf("line %d: unexpected indentation", l.number)
		}
		if isSeqItem(l.content) {
			break // a sequence at the parent key's indentation ends this mapping's value
		}
		key, rest, ok, err := splitKey(l.content)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", l.number, err)
		}
		if !ok {
			return nil, fmt.Errorf("line %d: expected \"key: value\", got %q", l.number, l.content)
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("line %d: duplicate key %q", l.number, key)
		}
		p.pos++
		if rest != "" {
			value, err := scalar(rest)
			if err != nil {
				return nil, fmt.Errorf("line %d: %v", l.number, err)
			}
			out[key] = value
			continue
		}
		// A nested block: deeper lines, or a sequence at the same indentation.
		if p.pos < len(p.lines) {
			next := p.lines[p.pos]
			if next.indent > indent || (next.indent == indent && isSeqItem(next.content)) {
				value, err := p.node(next.indent)
				if err != nil {
					return nil, err
				}
				out[key] = value
				continue
			}
		}
		out[key] = ""
	}
	return out, nil
}

func (p *parser) sequence(indent int) (interface{}, error) {
	out := []interface{}{}
	for p.pos < len(p.lines) {
		l := p.lines[p.pos]
		if l.indent < indent || (l.indent == indent && !isSeqItem(l.content)) {
			break
		}
		if l.indent > indent {
			return nil, fmt.Errorf("line %d: unexpected indentation", l.number)
		}
		rest := strings.TrimLeft(l.content[1:], " ")
		if rest == "" {
			p.pos++
			if p.pos < len(p.lines) && p.lines[p.pos].indent > indent {
				value, err := p.node(p.lines[p.pos].indent)
				if err != nil {
					return nil, err
				}
				out = append(out, value)
			} else {
				out = append(out, "")
			}
			continue
		}
		_, _, isMap, err := splitKey(rest)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", l.number, err)
		}
		if isMap || isSeqItem(rest) {
			// "- key: value": the item is a block whose first line starts after "- ".
			column := l.indent + len(l.content) - len(rest)
			p.lines[p.pos] = line{number: l.number, indent: column, content: rest}
			value, err := p.node(column)
			if err != nil {
				return nil, err
			}
			out = append(out, value)
			continue
		}
		value, err := scalar(rest)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", l.number, err)
		}
		out = append(out, value)
		p.pos++
	}
	return out, nil
}

// splitKey finds "key: rest" or "key:" (the key possibly quoted). ok is false for a plain scalar.
func splitKey(content string) (key, rest string, ok bool, err error) {
	if content[0] == '"' || content[0] == '\'' {
		end := quotedEnd(content)
		if end < 0 {
			return "", "", false, fmt.Errorf("unterminated quoted string %q", content)
		}
		after := content[end+1:]
		if after == ":" || strings.HasPrefix(after, ": ") {
			k, err := scalar(content[:end+1])
			if err != nil {
				return "", "", false, err
			}
			return k.(string), strings.TrimSpace(after[1:]), true, nil
		}
		return "", "", false, nil
	}
	for i := 0; i < len(content); i++ {
		if content[i] == ':' && (i+1 == len(content) || content[i+1] == ' ') {
			return strings.TrimSpace(content[:i]), strings.TrimSpace(content[i+1:]), true, nil
		}
	}
	return "", "", false, nil
}

// quotedEnd is the index of the quote closing the string that starts content, or -1.
func quotedEnd(content string) int {
	quote := content[0]
	for i := 1; i < len(content); i++ {
		switch {
		case quote == '"' && content[i] == '\\':
			i++
		case content[i] == quote:
			if quote == '\'' && i+1 < len(content) && content[i+1] == '\'' {
				i++
				continue
			}
			return i
		}
	}
	return -1
}

func scalar(text string) (interface{}, error) {
	switch text[0] {
	case '"':
		end := quotedEnd(text)
		if end != len(text)-1 {
			return nil, fmt.Errorf("malformed double-quoted string %s", text)
		}
		value, err := unquoteDouble(text[1:end])
		if err != nil {
			return nil, fmt.Errorf("malformed double-quoted string %s: %v", text, err)
		}
		return value, nil
	case '\'':
		end := quotedEnd(text)
		if end != len(text)-1 {
			return nil, fmt.Errorf("malformed single-quoted string %s", text)
		}
		return strings.ReplaceAll(text[1:end], "''", "'"), nil
	case '{', '[':
		if text == "{}" {
			return map[string]interface{}{}, nil
		}
		if text == "[]" {
			return []interface{}{}, nil
		}
		return nil, fmt.Errorf("flow collections other than {} and [] are not supported: %s", text)
	case '|', '>':
		return nil, fmt.Errorf("block scalars (| and >) are not supported")
	case '&', '*', '!':
		return nil, fmt.Errorf("anchors, aliases and tags are not supported: %s", text)
	}
	if text == "~" || text == "null" {
		return "", nil
	}
	return text, nil
}

// unquoteDouble resolves the escapes of a YAML double-quoted string (without its quotes).
func unquoteDouble(body string) (string, error) {
	var b strings.Builder
	simple := map[byte]string{
		'\\': "\\", '"': "\"", '/': "/", ' ': " ", '0': "\x00", 'a': "\a", 'b': "\b", 't': "\t",
		'n': "\n", 'v': "\v", 'f': "\f", 'r': "\r", 'e': "\x1b", '\t': "\t",
	}
	widths := map[byte]int{'x': 2, 'u': 4, 'U': 8}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(body) {
			return "", fmt.Errorf("a lone backslash at the end")
		}
		i++
		if text, ok := simple[body[i]]; ok {
			b.WriteString(text)
			continue
		}
		width, ok := widths[body[i]]
		if !ok {
			return "", fmt.Errorf("unknown escape \\%c", body[i])
		}
		if i+width >= len(body) {
			return "", fmt.Errorf("truncated escape \\%c", body[i])
		}
		code, err := strconv.ParseUint(body[i+1:i+1+width], 16, 32)
		if err != nil {
			return "", fmt.Errorf("bad escape \\%c%s", body[i], body[i+1:i+1+width])
		}
		b.WriteRune(rune(code))
		i += width
	}
	return b.String(), nil
}
