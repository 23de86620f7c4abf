"""What the app trains itself: fine-tuned classifiers, the NER model, feature-based versus fine-tuned transfer."""
