"""Writer (pipeline stages 4–7): articles from tasks, editing with versions, review and approval.

Every stage is a service function taking ids, called by the pages and (later) the automation runner alike.
"""
