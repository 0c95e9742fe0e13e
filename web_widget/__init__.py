"""The embeddable web widget: widget.js and widget.css (served at /widget.js, /widget.css) and demo.html (/demo)."""
