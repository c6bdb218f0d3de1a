# Meetings, attendance, presentations, lessons learned and action items come with their own issue.
