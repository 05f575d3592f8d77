"""Submissions as they really arrive: LMS exports, repositories, notebooks, one archive of all.

One small module per layout, each with a ``detect(entries)`` that says how
many entries of a folder look like its layout and a ``load(folder,
student_files)`` that returns :class:`~grader.importers.record.Candidate`
records:

- :mod:`~grader.importers.canvas`: a Canvas bulk download
  (``name[_LATE]_userid_attachmentid_file``, ``anon_…`` when anonymous);
- :mod:`~grader.importers.gradescope`: a Gradescope export (``submission_<id>/``
  and ``submission_metadata.yml``);
- :mod:`~grader.importers.moodle`: ``Full Name_participantid_assignsubmission_file_``;
- :mod:`~grader.importers.blackboard`: ``Assignment_user_attempt_<stamp>_file``,
  the latest attempt of each student;
- :mod:`~grader.importers.classroom`: a folder of GitHub Classroom clones;
- :mod:`~grader.importers.folder`: a folder per student, single files, zips.

:func:`grader.importers.driver.import_submissions` picks the layout (or takes
``--from``), gives every submission its id (the roster's when one is given),
and lists missing students and unmatched submissions. Notebooks become modules
in :mod:`~grader.importers.notebook`. This package's ``__init__`` imports
nothing, because :mod:`grader.ingest` imports two of its modules.
"""

# The layouts ``grader grade --from`` accepts (auto: detected).
FORMATS = ("auto", "folder", "canvas", "gradescope", "moodle", "blackboard", "classroom")
