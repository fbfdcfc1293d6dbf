#@markdown ##Install imagesumming (keeps Colab's numpy, pandas and tensorflow)
# imagesumming {{version}} (patch inject-imagesumming): no dependencies, so pip upgrades nothing
%pip install -q --no-deps "{{install_spec}}"

# Colab has every dependency; install only what is missing, pinned to the versions already here
import importlib, importlib.metadata, importlib.util, os, subprocess, sys, tempfile
imagesumming_requirements = {'numpy': 'numpy', 'pandas': 'pandas', 'tifffile': 'tifffile', 'h5py': 'h5py',
                             'ipywidgets': 'ipywidgets', 'nbformat': 'nbformat', 'matplotlib': 'matplotlib',
                             'scipy': 'scipy', 'yaml': 'pyyaml', 'tqdm': 'tqdm'}
imagesumming_missing = [imagesumming_dist for imagesumming_module, imagesumming_dist in imagesumming_requirements.items()
                        if importlib.util.find_spec(imagesumming_module) is None]
if imagesumming_missing:
  imagesumming_pins = []
  for imagesumming_dist in ('numpy', 'pandas', 'scipy', 'tensorflow', 'keras', 'h5py', 'matplotlib'):
    try:
      imagesumming_pins.append(imagesumming_dist + '==' + importlib.metadata.version(imagesumming_dist))
    except importlib.metadata.PackageNotFoundError:
      pass
  imagesumming_constraints = os.path.join(tempfile.gettempdir(), 'imagesumming-constraints.txt')
  with open(imagesumming_constraints, 'w') as imagesumming_file:
    imagesumming_file.write('\n'.join(imagesumming_pins) + '\n')
  print('Installing the missing dependencies: ' + ', '.join(imagesumming_missing))
  subprocess.check_call([sys.executable, '-m', 'pip', 'install', '-q', '-c', imagesumming_constraints] + imagesumming_missing)

importlib.invalidate_caches()
import imagesumming
print('imagesumming ' + imagesumming.__version__ + ' is ready')
