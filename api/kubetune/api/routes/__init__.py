"""One router per API family, collected in main.py."""
