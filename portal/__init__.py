"""The developer portal: an MkDocs (Material) site and Backstage catalog entities, from the spec."""
