"""Alert texts and their delivery: the message model, severities, the topics, the alert
memory that stops repeats, and the wording shared by the workflows. Imports shared/ only.
"""
