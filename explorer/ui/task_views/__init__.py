"""One module per task: draw(view) for explorer.tasks.<module>.View (step ③ of the Pipeline page)."""
