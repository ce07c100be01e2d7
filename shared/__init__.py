"""alertloop shared library: everything the thin functions in functions/ call."""
