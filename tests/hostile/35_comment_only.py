# import os
# os.system("touch /tmp/attndsl-hostile-marker")
