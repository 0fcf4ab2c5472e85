// Package hadoopconf reads a Hadoop HA configuration (core-site.xml,
// hdfs-site.xml) and maps what Hadoop's ZKFC reads from it onto zkfc's
// configuration, one file per NameNode (zkfc import-hadoop).
//
// It must never guess: a property in the ZKFC's own namespaces that it
// cannot express in zkfc's terms is refused with its name, and what is
// mapped but unsafe is reported with the reason. It reads files and
// writes text; it never contacts a NameNode or ZooKeeper.
package hadoopconf

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

// Conf is the merged set of properties of one or more Hadoop
// configuration files, later files overriding earlier ones as Hadoop
// loads core-site.xml before hdfs-site.xml.
type Conf struct {
	props map[string]property
	files []string
}

type property struct {
	value string
	file  string
	final bool
}

// PropertyError names a property (or a file) that cannot be used, and
// why; the message says what to change.
type PropertyError struct {
	File     string
	Property string
	Msg      string
}

func (e *PropertyError) Error() string {
	switch {
	case e.Property == "":
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	case e.File == "":
		return fmt.Sprintf("%s: %s", e.Property, e.Msg)
	default:
		return fmt.Sprintf("%s: %s: %s", e.File, e.Property, e.Msg)
	}
}

// ReadFiles parses the files in order (core-site.xml first, then
// hdfs-site.xml) into one Conf.
func ReadFiles(paths ...string) (*Conf, error) {
	c := &Conf{props: map[string]property{}}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		err = c.read(f, p)
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Parse reads one configuration document from r; name is used in errors.
func Parse(r io.Reader, name string) (*Conf, error) {
	c := &Conf{props: map[string]property{}}
	if err := c.read(r, name); err != nil {
		return nil, err
	}
	return c, nil
}

// xmlProperty is one <property>: Hadoop accepts name, value and final as
// child elements or as attributes.
type xmlProperty struct {
	Name      string     `xml:"name"`
	Value     *string    `xml:"value"`
	Final     string     `xml:"final"`
	AttrName  string     `xml:"name,attr"`
	AttrValue *string    `xml:"value,attr"`
	AttrFinal string     `xml:"final,attr"`
	Include   []xml.Name `xml:"include"`
}

func (c *Conf) read(r io.Reader, name string) error {
	dec := xml.NewDecoder(r)
	// Hadoop's parser stops at the first syntax error; report where.
	line := func() int { l, _ := dec.InputPos(); return l }
	depth := 0
	sawRoot := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return &PropertyError{File: name, Msg: fmt.Sprintf("not a Hadoop configuration file: %v", err)}
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			switch {
			case depth == 1:
				if t.Name.Local != "configuration" {
					return &PropertyError{File: name, Msg: fmt.Sprintf("line %d: root element is <%s>, want <configuration>", line(), t.Name.Local)}
				}
				sawRoot = true
			case t.Name.Local == "include":
				return &PropertyError{File: name, Msg: fmt.Sprintf("line %d: XInclude is not supported; inline the included file", line())}
			case depth == 2 && t.Name.Local == "property":
				at := line()
				var p xmlProperty
				if err := dec.DecodeElement(&p, &t); err != nil {
					return &PropertyError{File: name, Msg: fmt.Sprintf("line %d: malformed <property>: %v", at, err)}
				}
				depth--
				if err := c.add(p, name, at); err != nil {
					return err
				}
			case depth == 2:
				// Hadoop ignores unknown elements under <configuration>.
				if err := dec.Skip(); err != nil {
					return &PropertyError{File: name, Msg: fmt.Sprintf("line %d: %v", line(), err)}
				}
				depth--
			}
		case xml.EndElement:
			depth--
		}
	}
	if !sawRoot {
		return &PropertyError{File: name, Msg: "no <configuration> element: not a Hadoop configuration file"}
	}
	c.files = append(c.files, name)
	return nil
}

func (c *Conf) add(p xmlProperty, file string, line int) error {
	if len(p.Include) > 0 {
		return &PropertyError{File: file, Msg: fmt.Sprintf("line %d: XInclude is not supported; inline the included file", line)}
	}
	name := strings.TrimSpace(p.Name)
	if name == "" {
		name = strings.TrimSpace(p.AttrName)
	}
	value := p.Value
	if value == nil {
		value = p.AttrValue
	}
	if name == "" {
		return &PropertyError{File: file, Msg: fmt.Sprintf("line %d: <property> without a <name>", line)}
	}
	if value == nil {
		// Hadoop skips a property without a value; so do we.
		return nil
	}
	if old, ok := c.props[name]; ok && old.final {
		// A final property cannot be overridden (Hadoop logs and keeps it).
		return nil
	}
	final := strings.TrimSpace(p.Final) == "true" || strings.TrimSpace(p.AttrFinal) == "true"
	c.props[name] = property{value: *value, file: file, final: final}
	return nil
}

var varRef = regexp.MustCompile(`\$\{([^}$ ]+)\}`)

// maxExpansions bounds ${var} substitution, as Hadoop does (20 rounds).
const maxExpansions = 20

// Get returns the trimmed value of name with ${other.property}
// references substituted, and whether it is set.
func (c *Conf) Get(name string) (string, bool, error) {
	p, ok := c.props[name]
	if !ok {
		return "", false, nil
	}
	v := strings.TrimSpace(p.value)
	for i := 0; varRef.MatchString(v); i++ {
		if i == maxExpansions {
			return "", true, &PropertyError{File: p.file, Property: name, Msg: "${...} references nest more than 20 deep (a cycle?)"}
		}
		var bad string
		v = varRef.ReplaceAllStringFunc(v, func(ref string) string {
			key := ref[2 : len(ref)-1]
			if r, ok := c.props[key]; ok {
				return strings.TrimSpace(r.value)
			}
			if bad == "" {
				bad = key
			}
			return ref
		})
		if bad != "" {
			return "", true, &PropertyError{File: p.file, Property: name,
				Msg: fmt.Sprintf("refers to ${%s}, which these files do not set (Hadoop would take it from the JVM or the environment); write the value out", bad)}
		}
	}
	return v, true, nil
}

// File is the file that set name ("" if unset).
func (c *Conf) File(name string) string { return c.props[name].file }

// Names lists every property set.
func (c *Conf) Names() []string {
	out := make([]string, 0, len(c.props))
	for k := range c.props {
		out = append(out, k)
	}
	return out
}
