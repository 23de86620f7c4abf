"""One module per task: draw(view) for explorer.pipeline.tasks.<module>.View (step ③ of the Pipeline page)."""
