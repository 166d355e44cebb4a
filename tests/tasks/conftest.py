from tasks.start_support import (clean_sense, filtered_valet, open_valet, qlog,  # noqa: F401
                                 sense, store_url)
