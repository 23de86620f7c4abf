"""One module per task: draw(view) for explorer.views.tasks.<module>.View (step ③ of the Pipeline page)."""
