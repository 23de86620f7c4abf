"""Pure functions from arrays and results to Plotly figures, escaped HTML, bertviz HTML and downloads."""
