"""One view per page: a frozen ``Settings`` (each setting declared once, see explorer.views.settings)
and a pure ``build(...) -> View`` that computes every number, table, figure and sentence the page
shows. Pages only make widgets from Settings, call build and draw the View. No Streamlit here."""
