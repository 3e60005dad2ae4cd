"""Generated documentation: the metric catalogue and other reference pages."""
