"""The only package that imports streamlit: cached queries, the page shell, shared widgets."""
