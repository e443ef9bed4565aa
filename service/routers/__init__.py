"""One router per resource; ``service/app.py`` only includes them."""
